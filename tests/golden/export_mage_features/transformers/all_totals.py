if 'transformer' not in globals():
    from jupyter_blocks.decorators import transformer


@transformer
def transform(region_total, *args, **kwargs):
    return {"totals": sorted(region_total, key=lambda row: row["region"])}
