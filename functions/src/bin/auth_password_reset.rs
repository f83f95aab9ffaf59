//! Lambda function `auth_password_reset`: serves `tenant::routes::accounts::request_reset`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::accounts::request_reset)
}
