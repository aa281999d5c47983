"""Fake ``comfy.model_sampling``: the model-sampling classes whose type tells the model family."""


class EPS:
    pass


class V_PREDICTION(EPS):
    pass


class EDM(V_PREDICTION):
    pass


class CONST:
    pass


class X0(EPS):
    pass
