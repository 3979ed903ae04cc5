"""A moto server whose SSM already holds some public parameters (/aws/service/...), as AWS has them.

moto ships only a few of AWS's public parameters and refuses PutParameter under /aws/, so they are
seeded into its backend before the server starts. Each value is an AMI id, and EC2 gets that image
too (an Ubuntu image: root device /dev/sda1), as the parameter names an image that exists. Usage:
moto_public_parameters.py HOST PORT REGION NAME=VALUE...
"""

import sys

from moto.core.utils import utcnow
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from moto.server import main
from moto.ssm.models import Parameter, ssm_backends

ACCOUNT = "123456789012"  # moto's default account, used for any credentials
CANONICAL = "099720109477"  # the owner of Ubuntu's images

host, port, region, *pairs = sys.argv[1:]
parameters = ssm_backends[ACCOUNT][region]._parameters
images = ec2_backends[ACCOUNT][region]
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
    images.amis[value] = Ami(
        images,
        ami_id=value,
        name=name,
        owner_id=CANONICAL,
        public=True,
        architecture="x86_64",
        root_device_type="ebs",
        root_device_name="/dev/sda1",
    )
main(["-H", host, "-p", port])
