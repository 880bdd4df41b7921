"""The domain: data, config, the lifecycle table and machine, ids, clocks, decimals."""
