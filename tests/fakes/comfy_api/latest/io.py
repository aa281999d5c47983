"""Fake ``comfy_api.latest.io``: the V3 schema classes the pack uses.

Signatures, stored attributes, ``as_dict()`` and ``get_io_type()`` follow ComfyUI 0.8's
``comfy_api/latest/_io.py`` (keyword names included), so a wrong keyword fails here as it would there
and ``as_dict()`` is what the real class sends to the front end for the same arguments.
"""


def prune_dict(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


class Input:
    io_type = None

    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, extra_dict=None,
                 raw_link=None):
        self.id = id
        self.display_name = display_name
        self.optional = optional
        self.tooltip = tooltip
        self.lazy = lazy
        self.extra_dict = extra_dict if extra_dict is not None else {}
        self.rawLink = raw_link

    def as_dict(self):
        return prune_dict({
            "display_name": self.display_name,
            "optional": self.optional,
            "tooltip": self.tooltip,
            "lazy": self.lazy,
            "rawLink": self.rawLink,
        }) | prune_dict(self.extra_dict)

    def get_io_type(self):
        return self.io_type


class WidgetInput(Input):
    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None,
                 socketless=None, widget_type=None, force_input=None, extra_dict=None, raw_link=None):
        super().__init__(id, display_name, optional, tooltip, lazy, extra_dict, raw_link)
        self.default = default
        self.socketless = socketless
        self.widget_type = widget_type
        self.force_input = force_input

    def as_dict(self):
        return super().as_dict() | prune_dict({
            "default": self.default,
            "socketless": self.socketless,
            "widgetType": self.widget_type,
            "forceInput": self.force_input,
        })

    def get_io_type(self):
        return self.widget_type if self.widget_type is not None else super().get_io_type()


class Output:
    io_type = None

    def __init__(self, id=None, display_name=None, tooltip=None, is_output_list=False):
        self.id = id
        self.display_name = display_name if display_name else id
        self.tooltip = tooltip
        self.is_output_list = is_output_list

    def as_dict(self):
        return prune_dict({
            "display_name": self.display_name if self.display_name else self.id,
            "tooltip": self.tooltip,
            "is_output_list": self.is_output_list,
        })

    def get_io_type(self):
        return self.io_type


class Boolean:
    class Input(WidgetInput):
        io_type = "BOOLEAN"

        def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None,
                     label_on=None, label_off=None, socketless=None, force_input=None, extra_dict=None,
                     raw_link=None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                             extra_dict, raw_link)
            self.label_on = label_on
            self.label_off = label_off

        def as_dict(self):
            return super().as_dict() | prune_dict({"label_on": self.label_on, "label_off": self.label_off})


class _Number(WidgetInput):
    """What ComfyUI's ``Int.Input`` and ``Float.Input`` share: a range, a step and a display mode."""

    def __init__(self, id, display_name, optional, tooltip, lazy, default, min, max, step, display_mode, socketless,
                 force_input, extra_dict, raw_link):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input,
                         extra_dict, raw_link)
        self.min = min
        self.max = max
        self.step = step
        self.display_mode = display_mode

    def as_dict(self):
        return super().as_dict() | prune_dict({"min": self.min, "max": self.max, "step": self.step})


class Int:
    class Input(_Number):
        io_type = "INT"

        def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, min=None,
                     max=None, step=None, control_after_generate=None, display_mode=None, socketless=None,
                     force_input=None, extra_dict=None, raw_link=None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, min, max, step, display_mode,
                             socketless, force_input, extra_dict, raw_link)
            self.control_after_generate = control_after_generate

        def as_dict(self):
            display = self.display_mode.value if self.display_mode else None
            return super().as_dict() | prune_dict({"control_after_generate": self.control_after_generate,
                                                   "display": display})


class Float:
    class Input(_Number):
        io_type = "FLOAT"

        def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, min=None,
                     max=None, step=None, round=None, display_mode=None, socketless=None, force_input=None,
                     extra_dict=None, raw_link=None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, min, max, step, display_mode,
                             socketless, force_input, extra_dict, raw_link)
            self.round = round

        def as_dict(self):
            return super().as_dict() | prune_dict({"round": self.round, "display": self.display_mode})


class Combo:
    class Input(WidgetInput):
        io_type = "COMBO"

        def __init__(self, id, options=None, display_name=None, optional=False, tooltip=None, lazy=None,
                     default=None, control_after_generate=None, upload=None, image_folder=None, remote=None,
                     socketless=None, extra_dict=None, raw_link=None):
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, None, extra_dict,
                             raw_link)
            self.multiselect = False
            self.options = options
            self.control_after_generate = control_after_generate
            self.upload = upload
            self.image_folder = image_folder
            self.remote = remote

        def as_dict(self):
            return super().as_dict() | prune_dict({
                "multiselect": self.multiselect,
                "options": self.options,
                "control_after_generate": self.control_after_generate,
                "image_folder": self.image_folder,
                "remote": self.remote,
            })


class Model:
    class Input(Input):
        io_type = "MODEL"

    class Output(Output):
        io_type = "MODEL"


class Sampler:
    class Input(Input):
        io_type = "SAMPLER"

    class Output(Output):
        io_type = "SAMPLER"


class Schema:
    def __init__(self, node_id, display_name=None, category="sd", inputs=None, outputs=None, hidden=None,
                 description="", is_input_list=False, is_output_node=False, is_deprecated=False,
                 is_experimental=False, is_api_node=False, not_idempotent=False, enable_expand=False):
        self.node_id = node_id
        self.display_name = display_name
        self.category = category
        self.inputs = inputs or []
        self.outputs = outputs or []
        self.description = description


class NodeOutput:
    def __init__(self, *args, ui=None, expand=None, block_execution=None):
        self.args = args

    @property
    def result(self):
        return self.args if self.args else None


class ComfyNode:
    @classmethod
    def define_schema(cls):
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs):
        raise NotImplementedError
