"""Packaging glue that pyproject.toml cannot express (metadata and dependencies live there).

``configs/`` stays at the top of the repository (the layout the product's owner asked for) and
ships inside the wheel as the data package ``ohs_gate_configs``, so a regular install run from
any folder finds the admission rule set and the model tables
(``firmware_bridges.configfile.shipped_config``).
"""

from setuptools import find_packages, setup

CONFIG_FOLDERS = ("admission", "models", "devices", "mosquitto")

setup(
    packages=find_packages(include=["edge_agent*", "hub*", "firmware_bridges*", "simulators*", "ohs_demo*"])
    + ["ohs_gate_configs", *(f"ohs_gate_configs.{folder}" for folder in CONFIG_FOLDERS)],
    package_dir={"ohs_gate_configs": "configs"},
)
