if 'transformer' not in globals():
    from jupyter_blocks.decorators import transformer


@transformer
def transform(big, *args, **kwargs):
    return {"weekend_rows": len(big)}
