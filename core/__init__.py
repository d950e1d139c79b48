"""What every stage shares, and nothing heavier than the standard library at import.

`edgelstm.core` holds the contract's building blocks that train, export, the
runtime, the benchmarks and the command line all use: the errors a user can act
on (`errors`), file checksums (`hashing`), writing a folder all at once
(`staging`), JSON files (`jsonio`), the versions of the libraries in use
(`versions`) and how a child process ended (`processes`). Importing any of them
loads no numpy, no interpreter and no TensorFlow.
"""
