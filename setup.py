"""Build the optional C kernels (src/pathdyn/validation/network/_kernels.c); everything else is in pyproject.toml.

The extension is optional: where no C compiler is available the build goes on without it
and the simulator uses BLAS for every product (pathdyn.validation.network.kernels says which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "pathdyn.validation.network._kernels",
            sources=["src/pathdyn/validation/network/_kernels.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
