"""`jackstop posture`: a scorecard of the ten controls that stop LLMjacking, for one application
tree and its gateway, with the evidence for each score, the risk and the exact fix.

collect/   read the inputs (an app tree, the local store, a remote gateway's admin API) into facts
checks/    one module per control: facts in, a `CheckResult` out
render/    table, JSON, SARIF and HTML
lessons.toml  the teaching text of every control (`--explain`), as data
"""
