"""One message for every unsupported layer of a model, grouped by type (used by both sides)."""
from collections import OrderedDict


def format_unsupported(where, entries, supported):
    """entries: [(type, layer name, reason or '')]. Returns the multi-line message."""
    groups = OrderedDict()
    for kind, name, reason in entries:
        key = (kind, reason or "")
        if key not in groups:
            groups[key] = [0, name]
        groups[key][0] += 1
    kinds = len(set(k for k, _ in groups))
    lines = ["%s: %d unsupported layer(s) of %d type(s); nothing was written:"
             % (where, len(entries), kinds)]
    for (kind, reason), (count, first) in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        detail = " [%s]" % reason if reason else ""
        lines.append("  %s%s x%d (first: %s)" % (kind, detail, count, first))
    lines.append("  supported: %s" % ", ".join(sorted(supported)))
    lines.append("  what to do: replace these layers with supported ones (see the README's supported-layer "
                 "table), remove them before converting, or teach the converter your own layer with a plugin "
                 "(--plugin FILE, see the README).")
    return "\n".join(lines)
