"""The inventory methods as plain functions on numpy/pandas data (no Django): reorder policy,
supplier scorecards and allocation, the demand replay, and performance measures."""
