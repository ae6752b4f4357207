import Foundation
import VigilCore

/// `/newsroom/second-factor`: enrolment (the secret as text and as a QR code, with a signed
/// form field that carries it until a first code proves the authenticator has it), or, once
/// enrolled, since when and how many recovery codes are left; after enrolment or a new set,
/// the recovery codes, shown this once.
struct SecondFactorPage: TemplateModel {
    var errors: [String] = []
    var enrolled: Bool
    /// ISO 8601.
    var since: Moment?
    /// The secret in groups of four, the QR code (SVG drawn on the server), the signed field.
    var secret: String = ""
    var qr: TrustedHTML = .empty
    var pending: String = ""
    /// How the authenticator app will name the entry.
    var account: String = ""
    var issuer: String = ""
    /// New recovery codes, shown once.
    var codes: [String] = []
    var codesLeft: Int = 0

    static let example = SecondFactorPage(
        errors: ["That code is not right. Check the time on your phone and try the newest code."], enrolled: true,
        since: .example, secret: "JBSW Y3DP EHPK 3PXP", qr: HTML.trusted("<svg></svg>"), pending: "eyJhIjoi…",
        account: "ana@example.org", issuer: "Vigil", codes: ["abcd-efgh-jkmn"], codesLeft: 10)
}

/// `/login/code`: the second step of a newsroom account's log-in.
struct LoginCodePage: TemplateModel {
    var errors: [String] = []

    static let example = LoginCodePage(errors: ["That code is not right."])
}
