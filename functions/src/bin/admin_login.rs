//! Lambda function `admin_login`: serves `tenant::routes::sessions::login`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::sessions::login)
}
