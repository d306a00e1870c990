import type en from "./en";
import { studioFr } from "./studio";

const fr: typeof en = {
  app: { name: "Clipfeed", skipToFeed: "Aller au fil" },
  tabs: { label: "Fils", foryou: "Pour toi", following: "Abonnements" },
  feed: {
    label: "Vidéos", empty: "Pas encore de vidéos. Revenez bientôt.",
    emptyFollowing: "Abonnez-vous à des créateurs pour voir leurs vidéos ici.",
    loading: "Chargement des vidéos…", error: "Le fil n'a pas pu se charger.", retry: "Réessayer",
    clipOf: "Vidéo de @{{handle}}", progress: "Position de lecture", pause: "Pause", play: "Lecture",
    unmute: "Activer le son", mute: "Couper le son", tapForSound: "Touchez pour le son", next: "Vidéo suivante",
    previous: "Vidéo précédente",
  },
  actions: {
    like: "J'aime", unlike: "Retirer le j'aime", comments: "Commentaires", share: "Partager", bookmark: "Enregistrer",
    unbookmark: "Retirer des enregistrements", follow: "Suivre", unfollow: "Abonné", followHandle: "Suivre @{{handle}}",
    unfollowHandle: "Ne plus suivre @{{handle}}", linkCopied: "Lien copié", profileOf: "Profil de @{{handle}}",
  },
  share: { native: "Partager…", copy: "Copier le lien", toUser: "Envoyer à quelqu'un sur Clipfeed", send: "Envoyer", sent: "Envoyé à @{{handle}}" },
  auth: {
    signIn: "Se connecter", register: "Créer un compte", signOut: "Se déconnecter", login: "Pseudo ou e-mail",
    password: "Mot de passe", handle: "Pseudo", email: "E-mail", displayName: "Nom (facultatif)",
    needAccount: "Nouveau ? Créez un compte", haveAccount: "Déjà un compte ? Connectez-vous",
    why: "Connectez-vous pour aimer, commenter et suivre.", close: "Fermer",
  },
  comments: {
    title: "Commentaires", count_one: "{{count}} commentaire", count_other: "{{count}} commentaires",
    add: "Ajouter un commentaire…", send: "Publier", reply: "Répondre", replyTo: "Répondre à @{{handle}}",
    replies_one: "Voir {{count}} réponse", replies_other: "Voir {{count}} réponses", like: "Aimer le commentaire",
    delete: "Supprimer", pin: "Épingler", unpin: "Désépingler", pinned: "Épinglé", pending: "En attente de modération",
    none: "Pas encore de commentaires.", more: "Voir plus", top: "Populaires", new: "Récents",
    followersOnly: "Seuls les abonnés du créateur peuvent commenter.", off: "Les commentaires sont désactivés.", cancelReply: "Annuler la réponse", sort: "Trier les commentaires",
  },
  nav: { main: "Principal", home: "Accueil", notifications: "Notifications",
    notificationsUnread: "Notifications, {{count}} non lues", profile: "Profil", settings: "Réglages" },
  notifications: { readAll: "Tout marquer comme lu", none: "Rien pour l'instant.",
    preferences: "Réglages des notifications", receive: "Me prévenir pour", kinds: { follow: "Nouveaux abonnés",
      like: "J'aime", comment: "Commentaires", reply: "Réponses", mention: "Mentions", share: "Partages",
      new_clip: "Nouvelles vidéos des personnes suivies", clip_ready: "Ma vidéo est prête",
      clip_rejected: "Ma vidéo n'a pas été publiée", clip_failed: "Ma vidéo n'a pas pu être traitée" } },
  profile: {
    more: "Plus d'options pour @{{handle}}", block: "Bloquer @{{handle}}", unblock: "Débloquer @{{handle}}",
    report: "Signaler @{{handle}}", reason: "Motif", send: "Envoyer le signalement", cancel: "Annuler",
    blocked: "Bloqué.", unblocked: "Débloqué.", reported: "Merci, un modérateur va examiner le signalement.",
    categories: { spam: "Spam", harassment: "Harcèlement", hate: "Haine", nudity: "Nudité", violence: "Violence",
      self_harm: "Automutilation", misinformation: "Désinformation", copyright: "Droit d'auteur", other: "Autre" },
    nobody: "Personne pour l'instant.", lists: "Listes", liked: "Aimées", saved: "Enregistrées", followers: "Abonnés", following: "Abonnements", clips: "Vidéos", noClips: "Pas encore de vidéos." },
  settings: { title: "Réglages", language: "Langue", editProfile: "Modifier le profil", bio: "Bio",
    save: "Enregistrer", saved: "Enregistré.", deleteTitle: "Supprimer le compte", delete: "Supprimer mon compte",
    deleteConfirm: "Supprimer définitivement",
    deleteWarning: "Vos vidéos, commentaires, j'aime et abonnements sont supprimés. C'est irréversible.",
    deleted: "Votre compte est supprimé." },
  errors: {
    generic: "Une erreur est survenue ({{status}}).",
    offline: "Vous êtes hors ligne. Nous réessaierons au retour du réseau.",
    rateLimited_one: "Trop de requêtes : réessayez dans {{count}} seconde.",
    rateLimited_other: "Trop de requêtes : réessayez dans {{count}} secondes.",
    notFound: "Cette page n'existe pas.",
  },
  network: { offline: "Pas de connexion. Les vidéos reprendront au retour du réseau." },
  ...studioFr,
};
export default fr;
