"""Fake ``gradio``: the component classes that settings name (never instantiated in tests)."""


class Component:
    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs


class Slider(Component):
    pass


class Checkbox(Component):
    pass


class Radio(Component):
    pass


class Number(Component):
    pass


class CheckboxGroup(Component):
    pass


class Dropdown(Component):
    pass
