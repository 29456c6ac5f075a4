if 'transformer' not in globals():
    from jupyter_blocks.decorators import transformer


@transformer
def transform(regions, *args, **kwargs):
    return {"region": regions["region"], "total": regions["amount"] * 2, "index": kwargs["dynamic_block_index"]}
