"""E-licenses (区块链+电子证照): the library of signed licenses, consent at the window, every access on the ledger."""
