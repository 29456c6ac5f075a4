if 'transformer' not in globals():
    from jupyter_blocks.decorators import transformer


@transformer
def transform(load, *args, **kwargs):
    return [x for x in load if x > kwargs["threshold"]]
