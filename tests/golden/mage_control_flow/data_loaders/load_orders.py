import os

import pandas as pd

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@data_loader
def load_data(*args, **kwargs):
    """The orders file; the sensor upstream contributes an empty positional argument."""
    return pd.read_csv(os.path.join(kwargs['repo_path'], 'inputs', 'orders.csv'))


@test
def test_six_orders(output, *args) -> None:
    assert len(output) == 6, f'expected 6 orders, got {len(output)}'
