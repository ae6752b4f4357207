/// RFC 3986 percent-encoding of UTF-8, byte by byte: every byte but the unreserved characters
/// (letters, digits, `-`, `.`, `_`, `~`) as `%XX` in upper-case hex. For `mailto:` links
/// (`Mailto`) and the authenticator's `otpauth:` address; page addresses keep other letters as
/// they are (`Endpoint.percentEncode`).
public enum PercentEncoding {
    /// `s` encoded, but for the ASCII characters of `extra`, which are kept as well. With
    /// `lineBreaksAsCRLF`, a lone LF gains its CR (CRLF and a lone CR stay as they are).
    public static func encode(_ s: String, keeping extra: String = "", lineBreaksAsCRLF: Bool = false) -> String {
        var kept = unreserved
        for byte in extra.utf8 where byte < 0x80 { kept[Int(byte)] = true }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count * 3)
        var previous: UInt8 = 0
        func percent(_ byte: UInt8) {
            out.append(UInt8(ascii: "%"))
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
        for byte in s.utf8 {
            if lineBreaksAsCRLF && byte == 0x0A && previous != 0x0D { percent(0x0D) }
            if byte < 0x80 && kept[Int(byte)] { out.append(byte) } else { percent(byte) }
            previous = byte
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3986's unreserved characters, by ASCII code.
    private static let unreserved: [Bool] = (0..<128).map { code in
        let c = UInt8(code)
        return (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || "-._~".utf8.contains(c)
    }
    private static let hexDigits = Array("0123456789ABCDEF".utf8)
}
