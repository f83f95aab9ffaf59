//! Lambda function `auth_password_reset_confirm`: serves `tenant::routes::accounts::confirm_reset`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::accounts::confirm_reset)
}
