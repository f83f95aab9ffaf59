//! Lambda function `operator_suspend`: serves `tenant::routes::operator::suspend`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::operator::suspend)
}
