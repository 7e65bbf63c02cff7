"""Reading the fields of a module's answer: commas outside quotes, bounded integers."""
from typing import List, Optional


def split_fields(text: str) -> List[str]:
    """``1,"TCP","1.2.3.4",80`` -> ``['1', 'TCP', '1.2.3.4', '80']``: commas inside quotes are kept."""
    fields, current, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    fields.append("".join(current).strip())
    return fields


def parse_int(text: str, low: int, high: int) -> Optional[int]:
    """An integer field from the modem, or None when it is not one or out of range."""
    text = text.strip()
    if not text or len(text) > 12 or not (text.isdigit() or (text[0] == "-" and text[1:].isdigit())):
        return None
    value = int(text)
    return value if low <= value <= high else None
