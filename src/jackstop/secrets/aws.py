"""AWS Secrets Manager through boto3: `aws-sm:SECRET_ID[#FIELD]`, always the AWSCURRENT version.

Credentials come from boto3's standard chain (environment, profile, SSO, instance or task
role); region and endpoint from `[secrets.aws]` or the standard AWS_* variables.
"""

from __future__ import annotations

from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from jackstop.secrets.managers import Manager, plain_or_field, split_field
from jackstop.secrets.refs import SecretError, SecretRef


class AwsSecretsManager(Manager):
    def __init__(self, settings: Any, timeout: float) -> None:
        try:
            session = boto3.session.Session(profile_name=settings.profile or None,
                                            region_name=settings.region or None)
            config = botocore.config.Config(connect_timeout=timeout, read_timeout=timeout,
                                            retries={"mode": "standard", "total_max_attempts": 2})
            self._client = session.client("secretsmanager", endpoint_url=settings.endpoint_url or None,
                                          config=config)
        except botocore.exceptions.NoRegionError:
            raise SecretError("aws-sm: refs need an AWS region; set [secrets.aws] region or AWS_REGION") from None
        except botocore.exceptions.ProfileNotFound:
            raise SecretError(f"AWS profile {settings.profile!r} is not in ~/.aws/config; "
                              f"fix [secrets.aws] profile") from None
        self.where = settings.endpoint_url or f"AWS Secrets Manager in {session.region_name}"

    def fetch(self, ref: SecretRef) -> str:
        secret_id, field = split_field(ref.name)
        try:
            resp = self._client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            hint = {"ResourceNotFoundException": "no such secret (check the name and region)",
                    "AccessDeniedException": "access denied; allow secretsmanager:GetSecretValue on it",
                    "DecryptionFailure": "its KMS key cannot be used; allow kms:Decrypt"}.get(code, code)
            raise SecretError(f"{ref}: {hint}") from None
        except botocore.exceptions.NoCredentialsError:
            raise SecretError("no AWS credentials found; set them the standard way (AWS_PROFILE, "
                              "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, or an instance role)") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise SecretError(f"{self.where} is unreachable ({exc.__class__.__name__})") from None
        text = resp.get("SecretString")
        if text is None:
            try:
                text = bytes(resp.get("SecretBinary") or b"").decode("utf-8")
            except UnicodeDecodeError:
                raise SecretError(f"{ref} is binary, not text") from None
        return plain_or_field(text, field, ref)
