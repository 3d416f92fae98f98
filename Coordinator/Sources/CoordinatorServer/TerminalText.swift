// Node-supplied strings (hostname, os, relay id) end up on an admin's terminal through
// `meshcoord node list`. A node is not trusted with that terminal: an escape sequence in its
// `os` field could clear the screen, retitle the window or rewrite earlier lines, and bidi
// overrides could make one node's row read like another's. So such text is cleaned twice:
// on the way in (registration) and on the way out (the table), so rows stored by an older
// coordinator are safe too.

/// Cleaning of text that came from a node before it is stored or shown.
public enum TerminalText {
    /// C0 controls, DEL, C1 controls, and the Unicode bidi embedding/override/isolate and
    /// mark characters: everything that moves the cursor, starts an escape sequence or
    /// reorders what follows.
    public static func isUnsafe(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x200E, 0x200F, 0x061C: return true          // LRM, RLM, ALM
        case 0x202A...0x202E, 0x2066...0x2069: return true  // embeddings, overrides, isolates
        case 0x2028, 0x2029: return true                    // line and paragraph separators
        default: return false
        }
    }

    public static func isClean(_ text: String) -> Bool { !text.unicodeScalars.contains(where: isUnsafe) }

    /// `text` with each unsafe scalar replaced by "?" (what registration stores).
    public static func cleaned(_ text: String) -> String {
        guard !isClean(text) else { return text }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars { out.append(isUnsafe(s) ? "?" : s) }
        return String(out)
    }

    /// `text` with each unsafe scalar shown as a visible escape (`\x1b`, `\u{202e}`), for
    /// display: the admin sees that something odd was there.
    public static func escaped(_ text: String) -> String {
        guard !isClean(text) else { return text }
        var out = ""
        for s in text.unicodeScalars {
            if !isUnsafe(s) {
                out.unicodeScalars.append(s)
            } else if s.value <= 0xFF {
                let hex = String(s.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else {
                out += "\\u{" + String(s.value, radix: 16) + "}"
            }
        }
        return out
    }
}

/// Left-aligned columns separated by two spaces (what `meshcoord authkey list` and
/// `meshcoord node list` print). Every cell goes through `TerminalText.escaped`.
public func renderTable(_ header: [String], _ rows: [[String]]) -> String {
    let safeRows = rows.map { $0.map(TerminalText.escaped) }
    var widths = header.map(\.count)
    for r in safeRows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in
            i == cells.count - 1 || i >= widths.count ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }
    return ([line(header)] + safeRows.map(line)).joined(separator: "\n")
}
