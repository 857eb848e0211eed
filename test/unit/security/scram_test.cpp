#include "pgquay/security/scram.hpp"

#include <gtest/gtest.h>

#include "pgquay/security/scram_exchange.hpp"

namespace pgquay::security::scram {
namespace {

// RFC 7677 section 3: user "user", password "pencil".
constexpr std::string_view kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
// The same credentials as pg_authid would store them (computed with Python's hashlib/hmac).
constexpr std::string_view kStoredVerifier =
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

Verifier rfc_verifier() {
  auto salt = base64_decode(kSalt);
  EXPECT_TRUE(salt);
  return compute_verifier("pencil", *salt, 4096);
}

TEST(ScramKeys, VerifierMatchesPostgresFormat) {
  Verifier v = rfc_verifier();
  EXPECT_EQ(format_verifier(v), kStoredVerifier);
  auto parsed = parse_verifier(kStoredVerifier);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->iterations, 4096);
  EXPECT_EQ(parsed->salt, v.salt);
  EXPECT_EQ(parsed->stored_key, v.stored_key);
  EXPECT_EQ(parsed->server_key, v.server_key);
  EXPECT_TRUE(is_verifier(kStoredVerifier));
  EXPECT_FALSE(is_verifier("md553f48b7c4b76a86ce72276c5755f217d"));
}

TEST(ScramKeys, ParseVerifierRejectsDamage) {
  for (std::string_view bad : {
           "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==",
           "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
           "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
           "SCRAM-SHA-256$x:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
           "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
           "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
           "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
           "AAAA",
           "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
           "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
       }) {
    EXPECT_FALSE(parse_verifier(bad)) << bad;
  }
}

TEST(ScramKeys, Rfc7677ProofAndSignatureFromPrimitives) {
  auto salt = base64_decode(kSalt);
  ASSERT_TRUE(salt);
  Sha256 salted = salted_password("pencil", *salt, 4096);
  Sha256 client = client_key(salted);
  std::string auth = auth_message("n=user,r=rOprNGfwEbeRWgbNEkqO", kServerFirst,
                                  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  Sha256 proof = client_proof(client, stored_key(client), auth);
  EXPECT_EQ(base64_encode(proof), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  EXPECT_EQ(format_server_final(server_signature(server_key(salted), auth)), kServerFinal);
  EXPECT_TRUE(verify_client_proof(stored_key(client), auth, proof));
  proof[0] ^= 1;
  EXPECT_FALSE(verify_client_proof(stored_key(client), auth, proof));
  EXPECT_FALSE(verify_client_proof(stored_key(client), auth, Bytes(31, 0)));
}

TEST(ScramExchange, ClientProducesRfc7677Messages) {
  ClientExchange client("pencil", std::string(kClientNonce), {.user = "user"});
  EXPECT_EQ(client.mechanism(), kMechanism);
  EXPECT_EQ(client.client_first(), kClientFirst);
  auto final_message = client.handle_server_first(kServerFirst);
  ASSERT_TRUE(final_message) << final_message.error().message;
  EXPECT_EQ(*final_message, kClientFinal);
  EXPECT_FALSE(client.server_verified());
  auto verified = client.handle_server_final(kServerFinal);
  ASSERT_TRUE(verified) << verified.error().message;
  EXPECT_TRUE(client.server_verified());
}

TEST(ScramExchange, ServerProducesRfc7677Messages) {
  ServerExchange server(rfc_verifier(), std::string(kServerNonce));
  auto first = server.handle_client_first(kMechanism, kClientFirst);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(*first, kServerFirst);
  auto final_message = server.handle_client_final(kClientFinal);
  ASSERT_TRUE(final_message) << final_message.error().message;
  EXPECT_EQ(*final_message, kServerFinal);
  EXPECT_TRUE(server.authenticated());
}

TEST(ScramExchange, ServerWorksFromAParsedPostgresVerifier) {
  auto verifier = parse_verifier(kStoredVerifier);
  ASSERT_TRUE(verifier);
  ServerExchange server(std::move(*verifier), std::string(kServerNonce));
  ASSERT_TRUE(server.handle_client_first(kMechanism, kClientFirst));
  auto final_message = server.handle_client_final(kClientFinal);
  ASSERT_TRUE(final_message);
  EXPECT_EQ(*final_message, kServerFinal);
}

// A full exchange between our two sides with random nonces and salt.
struct Outcome {
  bool server_ok = false;
  bool client_ok = false;
  std::string error;
};
Outcome run(std::string_view stored_password, std::string_view client_password,
            ServerChannelBinding binding = {}, ClientOptions options = {}) {
  Outcome out;
  auto verifier = make_verifier(stored_password);
  EXPECT_TRUE(verifier);
  auto server = ServerExchange::create(std::move(*verifier), std::move(binding));
  auto client = ClientExchange::create(std::string(client_password), std::move(options));
  EXPECT_TRUE(server && client);
  auto first = server->handle_client_first(client->mechanism(), client->client_first());
  if (!first) {
    out.error = first.error().message;
    return out;
  }
  auto client_final = client->handle_server_first(*first);
  EXPECT_TRUE(client_final);
  auto server_final = server->handle_client_final(*client_final);
  if (!server_final) {
    out.error = server_final.error().message;
    return out;
  }
  out.server_ok = server->authenticated();
  out.client_ok = client->handle_server_final(*server_final).has_value();
  return out;
}

TEST(ScramExchange, RoundTripRightAndWrongPassword) {
  Outcome right = run("correct horse", "correct horse");
  EXPECT_TRUE(right.server_ok) << right.error;
  EXPECT_TRUE(right.client_ok);
  Outcome wrong = run("correct horse", "battery staple");
  EXPECT_FALSE(wrong.server_ok);
  EXPECT_NE(wrong.error.find("wrong password"), std::string::npos) << wrong.error;
}

TEST(ScramExchange, ChannelBindingPlus) {
  Bytes cert_hash(32, 0xab);
  Outcome bound = run("pw", "pw", {.plus_offered = true, .tls_server_end_point = cert_hash},
                      {.tls_server_end_point = cert_hash});
  EXPECT_TRUE(bound.server_ok) << bound.error;
  EXPECT_TRUE(bound.client_ok);

  // The client saw another certificate (a man in the middle terminating TLS).
  Outcome mitm = run("pw", "pw", {.plus_offered = true, .tls_server_end_point = cert_hash},
                     {.tls_server_end_point = Bytes(32, 0xcd)});
  EXPECT_FALSE(mitm.server_ok);
  EXPECT_NE(mitm.error.find("channel binding"), std::string::npos) << mitm.error;

  // PLUS offered, client says 'y' (it thinks the server cannot bind): a downgrade.
  Outcome downgrade = run("pw", "pw", {.plus_offered = true, .tls_server_end_point = cert_hash},
                          {.binding_supported = true});
  EXPECT_FALSE(downgrade.server_ok);
  EXPECT_NE(downgrade.error.find("offered"), std::string::npos) << downgrade.error;

  // Without TLS: 'y' is fine, PLUS is refused.
  EXPECT_TRUE(run("pw", "pw", {}, {.binding_supported = true}).server_ok);
  Outcome plus_without_tls = run("pw", "pw", {}, {.tls_server_end_point = cert_hash});
  EXPECT_FALSE(plus_without_tls.server_ok);
  EXPECT_NE(plus_without_tls.error.find("not offered"), std::string::npos);
}

TEST(ScramExchange, ServerRefusesBadClientMessages) {
  auto fresh = [] { return ServerExchange(rfc_verifier(), std::string(kServerNonce)); };
  EXPECT_FALSE(fresh().handle_client_first("SCRAM-SHA-1", kClientFirst));
  EXPECT_FALSE(fresh().handle_client_first(kMechanism, "n,a=admin,n=user,r=abc"));
  EXPECT_FALSE(fresh().handle_client_first(kMechanism, "p=tls-server-end-point,,n=,r=abc"));
  EXPECT_FALSE(fresh().handle_client_first(kMechanism, "x,,n=user,r=abc"));
  EXPECT_FALSE(fresh().handle_client_first(kMechanism, "n,,m=ext,n=user,r=abc"));
  EXPECT_FALSE(fresh().handle_client_first(kMechanism, "n,,n=user"));
  EXPECT_FALSE(fresh().handle_client_first(kMechanism, "n,,n=user,r="));

  // A final message out of order, a changed nonce, a changed channel binding, a bad proof.
  EXPECT_FALSE(fresh().handle_client_final(kClientFinal));
  auto with_first = [&] {
    ServerExchange server = fresh();
    EXPECT_TRUE(server.handle_client_first(kMechanism, kClientFirst));
    return server;
  };
  EXPECT_FALSE(with_first().handle_client_final(
      "c=biws,r=rOprNGfwEbeRWgbNEkqOXXX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
  EXPECT_FALSE(with_first().handle_client_final(
      "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
  EXPECT_FALSE(with_first().handle_client_final(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));
  EXPECT_FALSE(with_first().handle_client_final("c=biws,r=x"));
  // A second final after a failure stays refused.
  ServerExchange server = with_first();
  EXPECT_FALSE(server.handle_client_final("c=biws,r=x,p=AAAA"));
  EXPECT_FALSE(server.handle_client_final(kClientFinal));
  EXPECT_FALSE(server.authenticated());
}

TEST(ScramExchange, ClientRefusesBadServerMessages) {
  auto fresh = [] { return ClientExchange("pencil", std::string(kClientNonce), {.user = "user"}); };
  // Nonce that does not extend ours, no server part, absurd iteration counts, bad salt.
  EXPECT_FALSE(fresh().handle_server_first("r=XXXX,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
  EXPECT_FALSE(
      fresh().handle_server_first("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));
  EXPECT_FALSE(
      fresh().handle_server_first("r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0"));
  EXPECT_FALSE(fresh().handle_server_first(
      "r=rOprNGfwEbeRWgbNEkqOab,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=2147483647"));
  EXPECT_FALSE(fresh().handle_server_first("r=rOprNGfwEbeRWgbNEkqOab,s=***,i=4096"));
  EXPECT_FALSE(fresh().handle_server_first("m=x,r=rOprNGfwEbeRWgbNEkqOab,s=W22Z,i=4096"));

  // A server that does not know the password cannot produce the signature.
  ClientExchange client = fresh();
  ASSERT_TRUE(client.handle_server_first(kServerFirst));
  auto forged = client.handle_server_final("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  ASSERT_FALSE(forged);
  EXPECT_NE(forged.error().message.find("server signature"), std::string::npos);
  ClientExchange refused = fresh();
  ASSERT_TRUE(refused.handle_server_first(kServerFirst));
  auto error = refused.handle_server_final("e=invalid-proof");
  ASSERT_FALSE(error);
  EXPECT_NE(error.error().message.find("invalid-proof"), std::string::npos);
}

TEST(ScramMessages, NamesAreEscaped) {
  EXPECT_EQ(escape_name("a,b=c"), "a=2Cb=3Dc");
  auto back = unescape_name("a=2Cb=3Dc");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, "a,b=c");
  EXPECT_FALSE(unescape_name("a=2"));
  EXPECT_FALSE(unescape_name("a=41"));
  auto first = parse_client_first("n,,n=we=2Cird,r=abc,x=extension");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->user, "we,ird");
  EXPECT_EQ(first->nonce, "abc");
  EXPECT_EQ(first->gs2_header, "n,,");
  EXPECT_EQ(first->bare, "n=we=2Cird,r=abc,x=extension");
  ClientExchange client("pw", "nonce", {.user = "we,ird"});
  EXPECT_EQ(client.client_first(), "n,,n=we=2Cird,r=nonce");
}

TEST(ScramMessages, ServerFinalForms) {
  auto ok = parse_server_final(kServerFinal);
  ASSERT_TRUE(ok);
  ASSERT_TRUE(ok->signature);
  EXPECT_EQ(ok->signature->size(), 32u);
  auto error = parse_server_final(format_server_error("other-error"));
  ASSERT_TRUE(error);
  EXPECT_FALSE(error->signature);
  EXPECT_EQ(error->error, "other-error");
  EXPECT_FALSE(parse_server_final("x=1"));
}

TEST(ScramKeys, NoncesAndMockVerifiers) {
  auto a = generate_nonce();
  auto b = generate_nonce();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 24u);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->find(','), std::string::npos);

  Bytes secret(32, 7);
  Verifier m1 = mock_verifier("nobody", secret);
  Verifier m2 = mock_verifier("nobody", secret);
  Verifier other = mock_verifier("someone", secret);
  EXPECT_EQ(m1.salt, m2.salt);  // stable: asking twice does not reveal the user is unknown
  EXPECT_EQ(m1.salt.size(), kSaltSize);
  EXPECT_NE(m1.salt, other.salt);
  ServerExchange server(std::move(m1), "snonce");
  ClientExchange client("guess", "cnonce", {});
  auto first = server.handle_client_first(kMechanism, client.client_first());
  ASSERT_TRUE(first);
  auto final_message = client.handle_server_first(*first);
  ASSERT_TRUE(final_message);
  EXPECT_FALSE(server.handle_client_final(*final_message));
}

}  // namespace
}  // namespace pgquay::security::scram
