"""Packaging; the version pins live in cdp/constants.py and are read from there."""
import re
from pathlib import Path

from setuptools import find_packages, setup

_consts = Path(__file__).parent.joinpath("cdp", "constants.py").read_text()


def _pin(name: str) -> str:
    return re.search(rf'^{name} = "([^"]+)"', _consts, re.M).group(1)


setup(
    name="cdp-engine",
    version="0.1.0",
    description="Spark batch Customer Data Platform engine: land, standardize, resolve identities, publish profiles",
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["cdp", "cdp.*"]),
    install_requires=[
        f"pyspark=={_pin('PYSPARK_VERSION')}",
        f"delta-spark=={_pin('DELTA_VERSION')}",
        f"graphframes-py=={_pin('GRAPHFRAMES_VERSION')}",
        f"great-expectations[spark]=={_pin('GREAT_EXPECTATIONS_VERSION')}",
        f"mlflow=={_pin('MLFLOW_VERSION')}",
        "pandas>=2.2,<3",
        "pyarrow>=15",
        "phonenumbers>=8.13",
        "pyyaml>=6",
        "pydantic>=2.5,<3",
        "rapidfuzz>=3.6,<4",  # string similarities inside the match features' pandas UDF
        "matplotlib>=3.7",  # the precision-recall curve logged to MLflow
    ],
    extras_require={"dev": ["pytest>=8", "chispa>=0.10"]},
    entry_points={"console_scripts": ["cdp=cdp.cli:main"]},
)
