"""The e-mail channel: one message per alert over SMTP (smtplib), with STARTTLS or implicit TLS and AUTH.

TLS is never given up silently: if `starttls = true` and the server does not offer STARTTLS,
the attempt fails. The certificate is checked against the system's CAs or `ca_file`.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from jackstop.alerts.channels import Secrets, SendError
from jackstop.alerts.model import Alert
from jackstop.alerts.render import email_subject, email_text
from jackstop.alerts.settings import SmtpSettings
from jackstop.redact import redact


class SmtpChannel:
    def __init__(self, name: str, settings: SmtpSettings, secrets: Secrets, timeout: float) -> None:
        self.name = name
        self.min_severity = settings.min_severity
        self._settings = settings
        self._secrets = secrets
        self._timeout = timeout

    def message(self, alert: Alert) -> EmailMessage:
        s = self._settings
        msg = EmailMessage()
        msg["Subject"] = email_subject(alert, s.subject_prefix)
        msg["From"] = s.from_
        msg["To"] = ", ".join(s.to)
        msg["Date"] = formatdate(alert.ts or None, usegmt=True)
        msg["Message-ID"] = make_msgid(domain="jackstop.alerts")
        msg["X-Jackstop-Alert"] = alert.dedupe_key
        msg["X-Jackstop-Severity"] = alert.severity
        msg.set_content(email_text(alert))
        return msg

    def _context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self._settings.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise SendError(f"cannot load ca_file {self._settings.ca_file}: {exc}", permanent=True) from None

    def send(self, alert: Alert) -> None:
        s = self._settings
        where = f"{s.host}:{s.effective_port}"
        password = self._secrets.resolve(s.password) if s.username else ""
        secrets = (password,) if password else ()
        msg = self.message(alert)
        try:
            context = self._context() if (s.tls or s.starttls) else None
            client: smtplib.SMTP
            if s.tls:
                client = smtplib.SMTP_SSL(s.host, s.effective_port, timeout=self._timeout, context=context)
            else:
                client = smtplib.SMTP(s.host, s.effective_port, timeout=self._timeout)
            with client:
                client.ehlo()
                if s.starttls:
                    if not client.has_extn("starttls"):
                        raise SendError(f"{where} does not offer STARTTLS; the alert was not sent in clear "
                                        f"(set tls = true for an SMTPS port, or use a server with STARTTLS)",
                                        permanent=True)
                    client.starttls(context=context)
                    client.ehlo()
                if s.username:
                    client.login(s.username, password)
                client.send_message(msg, from_addr=parseaddr(s.from_)[1], to_addrs=list(s.to))
        except SendError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise SendError(f"SMTP AUTH refused by {where} ({exc.smtp_code}); check username and the password "
                            f"secret {s.password}", permanent=True) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendError(f"{where}: {exc}; check host/port (the submission port offers AUTH after TLS) "
                            f"or remove username", permanent=True) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SendError(redact(f"{where} refused every recipient: "
                                   f"{', '.join(f'{r} ({c})' for r, (c, _) in exc.recipients.items())}", secrets),
                            permanent=all(500 <= c < 600 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            raise SendError(redact(f"SMTP {exc.smtp_code} from {where}: {' '.join(text.split())}", secrets),
                            permanent=500 <= exc.smtp_code < 600) from None
        except ssl.SSLCertVerificationError as exc:
            raise SendError(f"TLS certificate of {where} is not trusted ({exc.verify_message}); "
                            f"set ca_file to its CA's PEM file") from None
        except (TimeoutError, smtplib.SMTPServerDisconnected, smtplib.SMTPException, ssl.SSLError, OSError) as exc:
            text = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
            if isinstance(exc, TimeoutError):
                text = f"no answer within {self._timeout:g}s"
            raise SendError(redact(f"cannot deliver through {where}: {text}", secrets)) from None
