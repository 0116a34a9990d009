"""The predictive methods as plain functions on numpy/pandas data (no Django here).

- `backtest`: accuracy measures (MAE, MAPE, MASE, interval coverage) and rolling-origin evaluation.
- `forecasting`: Prophet and the seasonal-naive baseline, chosen per series by backtest.
- `customers`: BG/NBD, Gamma-Gamma, customer lifetime value, RFM segments, holdout calibration.
- `parts`: Syntetos–Boylan demand classes and intermittent-demand forecasting (statsforecast).
- `costs`: the repair-cost model, labour-time outliers, overpriced purchases, bootstrap savings.
"""
