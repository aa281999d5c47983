"""Fake ``comfy_api.latest.io``: the V3 schema classes the pack uses, recording their arguments.

Signatures follow ComfyUI 0.8's ``comfy_api/latest/_io.py`` (keyword names included), so a wrong
keyword fails here as it would there.
"""


class _Input:
    io_type = None

    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, **kw):
        self.id = id
        self.display_name = display_name
        self.optional = optional
        self.tooltip = tooltip
        self.default = default
        self.options = kw


class _Output:
    io_type = None

    def __init__(self, id=None, display_name=None, tooltip=None, is_output_list=False):
        self.id = id
        self.display_name = display_name
        self.tooltip = tooltip


def _check(allowed, kw):
    unknown = set(kw) - set(allowed)
    if unknown:
        raise TypeError(f"unexpected keyword(s) {sorted(unknown)}")


class Float:
    class Input(_Input):
        io_type = "FLOAT"

        def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, **kw):
            _check({"min", "max", "step", "round", "display_mode", "socketless", "force_input", "extra_dict",
                    "raw_link"}, kw)
            super().__init__(id, display_name, optional, tooltip, lazy, default, **kw)


class Int:
    class Input(_Input):
        io_type = "INT"

        def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, **kw):
            _check({"min", "max", "step", "control_after_generate", "display_mode", "socketless", "force_input",
                    "extra_dict", "raw_link"}, kw)
            super().__init__(id, display_name, optional, tooltip, lazy, default, **kw)


class Boolean:
    class Input(_Input):
        io_type = "BOOLEAN"

        def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, default=None, **kw):
            _check({"label_on", "label_off", "socketless", "force_input", "extra_dict", "raw_link"}, kw)
            super().__init__(id, display_name, optional, tooltip, lazy, default, **kw)


class Combo:
    class Input(_Input):
        io_type = "COMBO"

        def __init__(self, id, options=None, display_name=None, optional=False, tooltip=None, lazy=None,
                     default=None, **kw):
            _check({"control_after_generate", "upload", "image_folder", "remote", "socketless", "extra_dict",
                    "raw_link"}, kw)
            super().__init__(id, display_name, optional, tooltip, lazy, default, **kw)
            self.options["options"] = options


class Model:
    class Input(_Input):
        io_type = "MODEL"

        def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, extra_dict=None,
                     raw_link=None):
            super().__init__(id, display_name, optional, tooltip, lazy)

    class Output(_Output):
        io_type = "MODEL"


class Sampler:
    class Input(_Input):
        io_type = "SAMPLER"

    class Output(_Output):
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
