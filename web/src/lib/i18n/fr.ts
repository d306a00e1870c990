import type en from "./en";

const fr: typeof en = {
  app: { name: "Clipfeed", skipToFeed: "Aller au fil" },
  tabs: { label: "Fils", foryou: "Pour toi", following: "Abonnements", hashtags: "Tags" },
  feed: {
    label: "Vidéos", empty: "Pas encore de vidéos : les nouvelles apparaissent ici dès qu’elles sont prêtes.",
    emptyFollowing: "Abonnez-vous à des créateurs pour voir leurs vidéos ici.",
    loading: "Chargement des vidéos…", error: "Le fil n'a pas pu se charger.", retry: "Réessayer",
    clipOf: "Vidéo de @{{handle}}", progress: "Position de lecture", pause: "Pause", play: "Lecture",
    unmute: "Activer le son", mute: "Couper le son", tapForSound: "Touchez pour le son", next: "Vidéo suivante",
    emptyHashtags: "Suivez des hashtags pour voir ici leurs dernières vidéos.",
    previous: "Vidéo précédente",
  },
  actions: {
    like: "J'aime", unlike: "Retirer le j'aime", comments: "Commentaires", share: "Partager", bookmark: "Enregistrer",
    unbookmark: "Retirer des enregistrements", follow: "Suivre", unfollow: "Abonné", followHandle: "Suivre @{{handle}}",
    unfollowHandle: "Ne plus suivre @{{handle}}", linkCopied: "Lien copié", profileOf: "Profil de @{{handle}}",
  },
  auth: {
    signIn: "Se connecter", register: "Créer un compte", signOut: "Se déconnecter", login: "Pseudo ou e-mail",
    password: "Mot de passe", handle: "Pseudo", email: "E-mail", displayName: "Nom (facultatif)",
    needAccount: "Nouveau ? Créez un compte", haveAccount: "Déjà un compte ? Connectez-vous",
    why: "Connectez-vous pour aimer, commenter et suivre.", close: "Fermer",
  },
  nav: { create: "Nouveau clip", main: "Principal", home: "Accueil", notifications: "Notifications",
    notificationsUnread: "Notifications, {{count}} non lues", profile: "Profil", settings: "Réglages", search: "Rechercher" },
  errors: {
    generic: "Une erreur est survenue ({{status}}).",
    offline: "Vous êtes hors ligne. Nous réessaierons au retour du réseau.",
    rateLimited_one: "Trop de requêtes : réessayez dans {{count}} seconde.",
    rateLimited_other: "Trop de requêtes : réessayez dans {{count}} secondes.",
    notFound: "Cette page n'existe pas.",
  },
  network: { offline: "Pas de connexion. Les vidéos reprendront au retour du réseau." },
};
export default fr;
