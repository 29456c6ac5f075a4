if 'data_loader' not in globals():
    from jupyter_blocks.decorators import data_loader
if 'test' not in globals():
    from jupyter_blocks.decorators import test


import pandas as pd


@data_loader
def orders(*args, **kwargs):
    return pd.DataFrame({
        "id": [1, 2, 3, 4, 5, 6],
        "region": ["east", "north", "east", "west", "west", "east"],
        "amount": [5.0, 7.0, 1.5, 4.0, 6.0, 7.5],
    })


@test
def six_orders(output, *args):
    assert len(output) == 6, f"expected 6 orders, got {len(output)}"
