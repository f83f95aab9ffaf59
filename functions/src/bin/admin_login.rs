//! Lambda function `admin_login`: serves `tenant::admin::login`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::admin::login)
}
