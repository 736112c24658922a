"""Pack and unpack stream payloads using the packed-field layout of the JSON description."""

__all__ = ["Codec"]


class _Leaf:
    """One packed value: a scalar or an array, at ``offset``."""

    def __init__(self, name, doc, where):
        self.name = name
        self.offset = int(doc.get("offset", 0))
        arr = doc.get("array")
        if arr is not None:
            self.length = int(arr["length"])
            self.elem_width = int(arr["element_width"])
            self.signed = bool(arr.get("element_signed", False))
        else:
            self.length = None
            self.elem_width = int(doc["width"])
            self.signed = bool(doc.get("signed", False))
        width = self.elem_width * (self.length or 1)
        if width != int(doc["width"]):
            raise ValueError(f"{where}: {name} is {doc['width']} bits, but its elements make "
                             f"{width}")
        self.mask = (1 << self.elem_width) - 1
        if self.signed:
            self.lo, self.hi = -(1 << (self.elem_width - 1)), (1 << (self.elem_width - 1)) - 1
        else:
            self.lo, self.hi = 0, self.mask

    def encode(self, value):
        items = value if self.length is not None else [value]
        if self.length is not None and len(items) != self.length:
            raise ValueError(f"{self.name}: {len(items)} elements, expected {self.length}")
        word, shift = 0, 0
        for v in items:
            v = int(v)
            if not self.lo <= v <= self.hi:
                raise ValueError(f"{self.name}: {v} does not fit {self.elem_width} "
                                 f"{'signed' if self.signed else 'unsigned'} bits")
            word |= (v & self.mask) << shift
            shift += self.elem_width
        return word << self.offset

    def decode(self, raw):
        raw >>= self.offset
        out = []
        for _ in range(self.length or 1):
            v = raw & self.mask
            if self.signed and v > self.hi:
                v -= 1 << self.elem_width
            out.append(v)
            raw >>= self.elem_width
        return out if self.length is not None else out[0]


class Codec:
    """Payload of one port (a JSON port entry): a struct (dict of leaf fields, nested names as
    ``a.b``), an array (list) or a plain integer; ``encode`` gives the packed int."""

    def __init__(self, port_doc):
        where = port_doc.get("name", "<port>")
        self.width = int(port_doc["width"])
        fields = port_doc.get("fields")
        if fields:
            names = [f["name"] for f in fields]
            # Leaves only: a struct field whose members are listed as ``name.x`` is not one.
            self._leaves = [_Leaf(f["name"], f, where) for f in fields
                            if not any(n.startswith(f["name"] + ".") for n in names)]
            self._single = None
        else:
            self._leaves = None
            self._single = _Leaf(where, {**port_doc, "offset": 0}, where)

    @property
    def fields(self):
        return [leaf.name for leaf in self._leaves] if self._leaves else []

    def encode(self, value):
        if self._single is not None:
            return self._single.encode(value)
        missing = [leaf.name for leaf in self._leaves if leaf.name not in value]
        unknown = sorted(set(value) - {leaf.name for leaf in self._leaves})
        if missing or unknown:
            raise ValueError(f"payload fields: missing {missing}, unknown {unknown}")
        word = 0
        for leaf in self._leaves:
            word |= leaf.encode(value[leaf.name])
        return word

    def decode(self, raw):
        if self._single is not None:
            return self._single.decode(raw)
        return {leaf.name: leaf.decode(raw) for leaf in self._leaves}
