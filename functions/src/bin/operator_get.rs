//! Lambda function `operator_get`: serves `tenant::routes::operator::get`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::operator::get)
}
