"""QuecPython's ``log`` module, a stand-in over Python's ``logging``.

``log.basicConfig(level=log.INFO)`` and ``log.getLogger(name)`` with ``debug``/``info``/``warning``/
``error``/``critical``: the records go to ``logging`` under the same name, so the host decides where
they end up.
"""
import logging

DEBUG, INFO, WARNING, ERROR, CRITICAL = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR,
                                         logging.CRITICAL)


def basicConfig(level: int = INFO) -> None:
    logging.basicConfig(level=level)


def getLogger(name: str) -> logging.Logger:
    return logging.getLogger(name)
