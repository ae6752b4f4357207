import Foundation

/// `/password-reset?token=…`: the new password, posted with the token of the mailed link.
struct PasswordNewPage: TemplateModel {
    var token: String
    var errors: [String] = []

    static let example = PasswordNewPage(token: "q3v1M2x9lYwq4hJ8s0aT", errors: ["Choose a password of at least 12 characters."])
}
