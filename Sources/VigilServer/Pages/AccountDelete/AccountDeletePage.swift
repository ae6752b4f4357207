import Foundation

/// `/account/delete`: deleting the account, with the password.
struct AccountDeletePage: TemplateModel {
    var errors: [String] = []

    static let example = AccountDeletePage(errors: ["The password is wrong."])
}
