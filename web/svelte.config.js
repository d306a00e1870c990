export default { compilerOptions: { discloseVersion: false } }; // no version global: bytes off the feed route
