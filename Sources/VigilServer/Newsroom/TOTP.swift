import Crypto
import Foundation
import VigilCore

/// Base32 of RFC 4648 §6, the alphabet authenticator apps expect for TOTP secrets.
enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// Upper case, without `=` padding (authenticator apps do not want it).
    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer = 0, bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[(buffer >> bits) & 31])
            }
            buffer &= (1 << bits) - 1
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Case-insensitive; spaces and `=` are ignored because people copy secrets
    /// in groups and with padding. Any other character, or a length no encoder
    /// produces, gives nil.
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer = 0, bits = 0, symbols = 0
        for c in text.utf8 {
            let value: Int
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "="): continue
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = Int(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = Int(c - UInt8(ascii: "a"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = Int(c - UInt8(ascii: "2")) + 26
            default: return nil
            }
            symbols += 1
            buffer = (buffer << 5) | value
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> bits) & 0xFF))
                buffer &= (1 << bits) - 1
            }
        }
        // 8 symbols carry 5 bytes; a last group of 1, 3 or 6 symbols cannot come from whole bytes.
        guard ![1, 3, 6].contains(symbols % 8) else { return nil }
        return out
    }
}

/// Time-based one-time passwords (RFC 6238) as authenticator apps make them:
/// HMAC-SHA1, 30-second steps from the Unix epoch, 6 digits.
struct TOTP {
    static let period: Int64 = 30
    static let digits = 6

    /// 160 bits, the HMAC-SHA1 block-size recommendation of RFC 4226 §4.
    static func newSecret() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &rng) }
    }

    static func step(at date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / Double(period)).rounded(.down))
    }

    /// HOTP (RFC 4226 §5.3) of the step counter: dynamic truncation, zero-padded.
    static func code(secret: [UInt8], step: Int64, digits: Int = 6) -> String {
        let counter = withUnsafeBytes(of: UInt64(bitPattern: step).bigEndian) { Array($0) }
        let mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: counter, using: SymmetricKey(data: secret)))
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary = (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16)
            | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<min(max(digits, 1), 9) { modulus *= 10 }
        let number = String(binary % modulus)
        return String(repeating: "0", count: max(0, digits - number.count)) + number
    }

    /// The step whose code `code` is, within `window` steps of now either way for
    /// clock drift, or nil. A step at or before `lastUsedStep` is refused so that
    /// an observed code cannot be replayed; the caller stores the returned step.
    static func verify(_ code: String, secret: [UInt8], at date: Date, window: Int = 1, after lastUsedStep: Int64?) -> Int64? {
        let typed = Array(code.utf8.filter { $0 != UInt8(ascii: " ") })
        guard typed.count == digits, typed.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        let now = step(at: date)
        var matched: Int64?
        // Every candidate is computed and compared in full, so the time taken
        // does not tell which step (or how many digits) matched.
        for offset in -Int64(max(window, 0))...Int64(max(window, 0)) {
            let candidate = now + offset
            let expected = Array(self.code(secret: secret, step: candidate, digits: digits).utf8)
            var difference: UInt8 = 0
            for (a, b) in zip(expected, typed) { difference |= a ^ b }
            let fresh = lastUsedStep.map { candidate > $0 } ?? true
            if difference == 0, fresh, matched == nil { matched = candidate }
        }
        return matched
    }

    /// The Key URI of Google Authenticator's format, which every app reads:
    /// `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=ISSUER&…`.
    static func uri(secret: [UInt8], account: String, issuer: String) -> String {
        let label = percentEncoded(issuer) + ":" + percentEncoded(account)
        return "otpauth://totp/\(label)?secret=\(Base32.encode(secret))&issuer=\(percentEncoded(issuer))"
            + "&algorithm=SHA1&digits=\(digits)&period=\(period)"
    }

    /// RFC 3986: everything but the unreserved characters, as UTF-8 with upper-case hex.
    static func percentEncoded(_ s: String) -> String { PercentEncoding.encode(s) }
}

/// One-time codes for when the authenticator is lost.
struct RecoveryCodes {
    /// No 0/o, 1/l/i: 31 symbols that cannot be misread from paper.
    static let alphabet = Array("abcdefghjkmnpqrstuvwxyz23456789")

    /// `xxxx-xxxx-xxxx`: 12 symbols of 31 are 59 bits each.
    static func generate(count: Int = 10) -> [String] {
        var rng = SystemRandomNumberGenerator()
        return (0..<max(count, 0)).map { _ in
            (0..<3).map { _ in String((0..<4).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }) }
                .joined(separator: "-")
        }
    }

    /// What is compared (and hashed): lower case, without the spaces and dashes
    /// people add or drop when they type a code.
    static func normalise(_ s: String) -> String {
        String(s.lowercased().filter { $0 != " " && $0 != "-" })
    }
}
