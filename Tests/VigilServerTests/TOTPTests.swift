import Foundation
import Testing
@testable import VigilServer

@Suite("TOTP second factor")
struct TOTPTests {
    let rfcSecret = Array("12345678901234567890".utf8)

    /// RFC 6238 Appendix B, the SHA-1 column.
    static let rfcVectors: [(time: Int64, code: String)] = [
        (59, "94287082"), (1_111_111_109, "07081804"), (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"), (2_000_000_000, "69279037"), (20_000_000_000, "65353130"),
    ]

    @Test(arguments: rfcVectors)
    func rfc6238Vectors(time: Int64, code: String) {
        let step = TOTP.step(at: Date(timeIntervalSince1970: TimeInterval(time)))
        #expect(step == time / 30)
        #expect(TOTP.code(secret: rfcSecret, step: step, digits: 8) == code)
        // Six digits are the same number modulo 10⁶: the last six of the eight.
        #expect(TOTP.code(secret: rfcSecret, step: step) == String(code.suffix(6)))
        #expect(TOTP.verify(String(code.suffix(6)), secret: rfcSecret, at: Date(timeIntervalSince1970: TimeInterval(time)), after: nil) == step)
    }

    @Test func codesAreZeroPadded() {
        // 07081804 → 081804: the leading zero stays.
        #expect(TOTP.code(secret: rfcSecret, step: 1_111_111_109 / 30) == "081804")
        #expect(TOTP.code(secret: rfcSecret, step: 1_111_111_109 / 30).count == 6)
    }

    @Test func base32RFC4648Vectors() {
        let vectors = [("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"),
                       ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI")]
        for (plain, encoded) in vectors {
            #expect(Base32.encode(Array(plain.utf8)) == encoded)
            #expect(Base32.decode(encoded) == Array(plain.utf8))
        }
        // The padded forms of the RFC decode too.
        #expect(Base32.decode("MZXW6YQ=") == Array("foob".utf8))
        #expect(Base32.decode("MZXW6YTBOI======") == Array("foobar".utf8))
    }

    @Test func base32DecodeIsForgivingOnlyOfCaseSpacesAndPadding() {
        #expect(Base32.decode("mzxw 6ytb oi") == Array("foobar".utf8))
        #expect(Base32.decode("MzXw6YtBoI") == Array("foobar".utf8))
        #expect(Base32.decode("MZXW6YTB0I") == nil, "0 is not in the alphabet")
        #expect(Base32.decode("MZXW1") == nil, "1 is not in the alphabet")
        #expect(Base32.decode("MZXW-6YTB") == nil)
        #expect(Base32.decode("MZXW6YTBOI\n") == nil)
        #expect(Base32.decode("MZXW6YTBÖI") == nil)
        let secret = TOTP.newSecret()
        #expect(Base32.decode(Base32.encode(secret)) == secret)
    }

    @Test func newSecretsAre160RandomBits() {
        let a = TOTP.newSecret(), b = TOTP.newSecret()
        #expect(a.count == 20)
        #expect(a != b)
    }

    @Test func windowAcceptsOneStepOfDriftEitherWayButNotTwo() {
        // setup
        let secret = TOTP.newSecret()
        let now = Date(timeIntervalSince1970: 1_700_000_015)
        let step = TOTP.step(at: now)
        let code = { (offset: Int64) in TOTP.code(secret: secret, step: step + offset) }
        // check
        #expect(TOTP.verify(code(0), secret: secret, at: now, after: nil) == step)
        #expect(TOTP.verify(code(-1), secret: secret, at: now, after: nil) == step - 1)
        #expect(TOTP.verify(code(1), secret: secret, at: now, after: nil) == step + 1)
        // Random codes two steps away could collide with a code in the window (1 in 10⁶ each); skip that case.
        for offset: Int64 in [-2, 2] where ![-1, 0, 1].map(code).contains(code(offset)) {
            #expect(TOTP.verify(code(offset), secret: secret, at: now, after: nil) == nil)
        }
        #expect(TOTP.verify(code(2), secret: secret, at: now, window: 2, after: nil) == step + 2)
    }

    @Test func aUsedStepCannotBeReplayed() {
        // setup
        let secret = TOTP.newSecret()
        let now = Date(timeIntervalSince1970: 1_700_000_015)
        let step = TOTP.step(at: now)
        let code = TOTP.code(secret: secret, step: step)
        // act
        let first = TOTP.verify(code, secret: secret, at: now, after: nil)
        // check
        #expect(first == step)
        #expect(TOTP.verify(code, secret: secret, at: now, after: first) == nil)
        #expect(TOTP.verify(code, secret: secret, at: now.addingTimeInterval(20), after: first) == nil)
        // An earlier step's code, still inside the window, is refused once a later one was used.
        let previous = TOTP.code(secret: secret, step: step - 1)
        if previous != code {
            #expect(TOTP.verify(previous, secret: secret, at: now, after: step) == nil)
        }
        // The next step's code is still fine.
        let next = TOTP.code(secret: secret, step: step + 1)
        #expect(TOTP.verify(next, secret: secret, at: now.addingTimeInterval(30), after: first) == step + 1)
    }

    @Test func onlySixASCIIDigitsAreAccepted() {
        let now = Date(timeIntervalSince1970: 59)
        let step = TOTP.step(at: now)
        #expect(TOTP.verify("287 082", secret: rfcSecret, at: now, after: nil) == step, "spaces are stripped")
        #expect(TOTP.verify(" 287082 ", secret: rfcSecret, at: now, after: nil) == step)
        for bad in ["", "28708", "2870820", "94287082", "28708a", "287-082", "２８７０８２", "٢٨٧٠٨٢", "+87082", "287082\n", "287\u{301}082"] {
            #expect(TOTP.verify(bad, secret: rfcSecret, at: now, after: nil) == nil, "\(bad)")
        }
    }

    @Test func uriPercentEncodesLabelAndIssuer() throws {
        let secret = Array("foobar".utf8)
        let uri = TOTP.uri(secret: secret, account: "Jane Doe@example.org", issuer: "Vigil Newsroom")
        #expect(uri == "otpauth://totp/Vigil%20Newsroom:Jane%20Doe%40example.org?secret=MZXW6YTBOI"
            + "&issuer=Vigil%20Newsroom&algorithm=SHA1&digits=6&period=30")
        let components = try #require(URLComponents(string: uri))
        #expect(components.scheme == "otpauth")
        #expect(components.host == "totp")
        #expect(components.path == "/Vigil Newsroom:Jane Doe@example.org")
        #expect(components.queryItems?.first { $0.name == "issuer" }?.value == "Vigil Newsroom")
        #expect(TOTP.uri(secret: secret, account: "a:b&c=d?é", issuer: "x") .contains("x:a%3Ab%26c%3Dd%3F%C3%A9?secret="))
    }

    @Test func recoveryCodesAreUnambiguousAndNormalise() {
        let codes = RecoveryCodes.generate()
        #expect(codes.count == 10)
        #expect(Set(codes).count == 10)
        #expect(RecoveryCodes.generate(count: 3).count == 3)
        for code in codes {
            #expect(code.count == 14)
            let groups = code.split(separator: "-", omittingEmptySubsequences: false)
            #expect(groups.count == 3 && groups.allSatisfy { $0.count == 4 })
            #expect(code.allSatisfy { $0 == "-" || RecoveryCodes.alphabet.contains($0) })
        }
        #expect(!RecoveryCodes.alphabet.contains { "0o1li".contains($0) })
        #expect(RecoveryCodes.alphabet.allSatisfy { $0.isLowercase || $0.isNumber })
        // 12 symbols of the alphabet carry at least 50 bits.
        #expect(12 * log2(Double(RecoveryCodes.alphabet.count)) >= 50)
        let code = "abcd-efgh-jkmn"
        for typed in ["ABCD-EFGH-JKMN", "abcd efgh jkmn", "abcdefghjkmn", " Abcd-efgh - jkmn "] {
            #expect(RecoveryCodes.normalise(typed) == RecoveryCodes.normalise(code))
        }
        #expect(RecoveryCodes.normalise(code) == "abcdefghjkmn")
        #expect(RecoveryCodes.normalise("abcd-efgh-jkmp") != RecoveryCodes.normalise(code))
    }
}
