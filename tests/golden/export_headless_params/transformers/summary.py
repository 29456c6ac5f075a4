if 'transformer' not in globals():
    from jupyter_blocks.decorators import transformer


import math
from statistics import mean as average


@transformer
def summary(clean, *args, **kwargs):
    return {"label": kwargs["label"], "root": math.sqrt(sum(clean)),
            "mean": average(clean), "ds": kwargs["ds"]}
