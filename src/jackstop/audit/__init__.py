"""Supply-chain auditor: malicious and tampered packages in the AI toolchain."""
