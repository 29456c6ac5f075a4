if 'transformer' not in globals():
    from jupyter_blocks.decorators import transformer


@transformer
def total(clean, *args, **kwargs):
    return int(clean.passengers.sum()) * kwargs["factor"]
