"""A moto server whose SSM already holds some public parameters (/aws/service/...), as AWS has them.

moto ships only a few of AWS's public parameters and refuses PutParameter under /aws/, so they are
seeded into its backend before the server starts. Usage: moto_public_parameters.py HOST PORT
REGION NAME=VALUE...
"""

import sys

from moto.core.utils import utcnow
from moto.server import main
from moto.ssm.models import Parameter, ssm_backends

ACCOUNT = "123456789012"  # moto's default account, used for any credentials

host, port, region, *pairs = sys.argv[1:]
parameters = ssm_backends[ACCOUNT][region]._parameters
for pair in pairs:
    name, value = pair.split("=", 1)
    parameters[name].append(
        Parameter(
            account_id=ACCOUNT,
            name=name,
            value=value,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=utcnow(),
            version=1,
            data_type="aws:ec2:image",
        )
    )
main(["-H", host, "-p", port])
