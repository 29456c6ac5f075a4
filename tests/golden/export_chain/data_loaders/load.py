if 'data_loader' not in globals():
    from jupyter_blocks.decorators import data_loader
if 'test' not in globals():
    from jupyter_blocks.decorators import test


import pandas as pd


@data_loader
def load(*args, **kwargs):
    return pd.DataFrame({"trip": [1, 2, 3, 4], "passengers": [1, 0, 2, 3]})

@test
def has_rows(output, *args):
    assert len(output) > 0, "no rows loaded"
