import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    # Under pytest 9, schemathesis 4.32 gives every operation's item the bare function's node id (pytest builds
    # it from `originalname`). xdist schedules by node id, so the suite ran one operation of 55 and said nothing
    # of the others. The item's own name carries the operation: make it the node id.
    for item in items:
        if type(item).__name__ == "SchemathesisFunction" and item.nodeid != f"{item.parent.nodeid}::{item.name}":
            item._id = item.parent.id.child(item.name)
