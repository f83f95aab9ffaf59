//! Lambda function `org_get`: serves `tenant::org::get`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::org::get)
}
