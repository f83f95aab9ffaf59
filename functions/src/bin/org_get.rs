//! Lambda function `org_get`: serves `tenant::routes::organizations::get`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::organizations::get)
}
