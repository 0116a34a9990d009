"""The methods of the workflow app as plain functions on numpy/pandas data (no Django): working
time, the rule condition language, QA control charts, technician allocation, process measures and
the queue simulation. The Django layer (selectors, services) fetches the data and stores results."""
