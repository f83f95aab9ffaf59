//! Lambda function `admin_logout`: serves `tenant::routes::sessions::logout`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::sessions::logout)
}
