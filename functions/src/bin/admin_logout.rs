//! Lambda function `admin_logout`: serves `tenant::admin::logout`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::admin::logout)
}
