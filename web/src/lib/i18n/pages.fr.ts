import type en from "./pages.en";

const fr: typeof en = {
  share: { native: "Partager…", copy: "Copier le lien", toUser: "Envoyer à quelqu'un sur Clipfeed", send: "Envoyer", sent: "Envoyé à @{{handle}}" },
  dismiss: { group: "Voir moins de ce genre", notInterested: "Pas intéressé", hide: "Masquer les vidéos de @{{handle}}",
    notInterestedDone: "Cette vidéo n'apparaîtra plus dans Pour toi pendant 30 jours.",
    hiddenDone: "Les vidéos de @{{handle}} sont masquées de Pour toi pendant 30 jours.", undo: "Annuler",
    hiddenTitle: "Créateurs masqués", hiddenExplain: "Leurs vidéos restent hors de Pour toi jusqu'à la date indiquée. Leur profil et la recherche les montrent toujours.",
    until: "jusqu'au {{day}}", showAgain: "Afficher à nouveau", showAgainHandle: "Afficher à nouveau @{{handle}}",
    shownAgain: "@{{handle}} peut de nouveau apparaître dans Pour toi.", noneHidden: "Vous n'avez masqué personne.", more: "Voir plus" },
  comments: {
    title: "Commentaires", count_one: "{{count}} commentaire", count_other: "{{count}} commentaires",
    add: "Ajouter un commentaire…", send: "Publier", reply: "Répondre", replyTo: "Répondre à @{{handle}}",
    replies_one: "Voir {{count}} réponse", replies_other: "Voir {{count}} réponses", like: "Aimer le commentaire",
    delete: "Supprimer", pin: "Épingler", unpin: "Désépingler", pinned: "Épinglé", pending: "En attente de modération",
    none: "Pas encore de commentaires.", more: "Voir plus", top: "Populaires", new: "Récents",
    followersOnly: "Seuls les abonnés du créateur peuvent commenter.", off: "Les commentaires sont désactivés.", cancelReply: "Annuler la réponse", sort: "Trier les commentaires",
  },
  notifications: { readAll: "Tout marquer comme lu", none: "Rien pour l'instant.", more: "Notifications plus anciennes",
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
};

export default fr;
